"""A private PostgreSQL server for a Python test, through pg-server.sh
(initdb into a fresh folder, a unix socket there only, Debian's binaries):

    with PgServer() as pg:
        uri = pg.create_db("fleet")      # a fresh database; its libpq URI
        pg.query(uri, "SELECT 1")        # rows as lists of strings
        pg.stop(); pg.restart()          # the same files, started again

The folder and the server are removed when the block ends."""
import os
import subprocess

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pg-server.sh")


class PgServer:
    def __init__(self):
        out = subprocess.run([SCRIPT, "start"], capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError(f"pg-server.sh start: {out.stderr.strip()}")
        self.dir, self.uri = out.stdout.split("\n")[:2]
        self.query_part = self.uri.split("?", 1)[1]   # host=DIR&user=postgres

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()

    def uri_of(self, db, user=None):
        q = self.query_part if user is None else f"host={self.dir}&user={user}"
        return f"postgresql:///{db}?{q}"

    def query(self, uri, sql):
        """Runs sql through psql; the rows, each a list of strings."""
        out = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                              "-c", sql, uri], capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise RuntimeError(f"psql: {sql}: {out.stderr.strip()}")
        return [line.split("\t") for line in out.stdout.splitlines() if line != ""]

    def value(self, uri, sql):
        rows = self.query(uri, sql)
        return rows[0][0] if rows else None

    def create_db(self, name):
        self.query(self.uri, f"CREATE DATABASE {name}")
        return self.uri_of(name)

    def stop(self):
        subprocess.run([SCRIPT, "stop", self.dir], check=True, timeout=60)

    def restart(self):
        subprocess.run([SCRIPT, "restart", self.dir], check=True, timeout=60)

    def remove(self):
        if self.dir and os.path.isdir(self.dir):
            subprocess.run([SCRIPT, "remove", self.dir], timeout=60)
        self.dir = None
