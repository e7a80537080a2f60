"""What a person reads: CSV tables and plots."""
