"""Operations: status (check_db), alerts and their channels, cleanup."""
