"""Operations drills (README "Backups"): run as scripts, and as tests in
crm/tests/test_ops_drills.py."""
