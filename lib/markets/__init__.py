"""The markets: one package per market (krx, us), each registering its datasets on the spine."""
