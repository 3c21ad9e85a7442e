"""Operations: health conditions, the periodic watch, admin alerts, metrics, doctor and logging."""
