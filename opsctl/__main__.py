from opsctl.cli import app

app(prog_name="opsctl")
