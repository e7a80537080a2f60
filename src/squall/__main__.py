from squall.cli.main import run

run()
