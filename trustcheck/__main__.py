from trustcheck.cli import run

run()
