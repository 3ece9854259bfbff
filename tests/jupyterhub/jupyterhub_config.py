# JupyterHub for the class test (tests/jupyterhub/run.sh): on localhost only, students as local
# accounts, each student's JupyterLab started as that user by the hub (LocalProcessSpawner).
# Everything that differs per run comes from the environment hub_test.py sets.
import os

c = get_config()  # noqa: F821 (JupyterHub's config loader defines it)

work = os.environ["HUB_TEST_WORK"]
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = int(os.environ["HUB_TEST_PORT"])
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(os.environ["HUB_TEST_PORT"]) + 1
c.JupyterHub.db_url = f"sqlite:///{work}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = f"{work}/jupyterhub_cookie_secret"
c.JupyterHub.pid_file = f"{work}/jupyterhub.pid"
c.ConfigurableHTTPProxy.command = [f"{work}/node_modules/.bin/configurable-http-proxy"]
c.ConfigurableHTTPProxy.pid_file = f"{work}/proxy.pid"

# The test logs in through the API with a service token; no one logs in with a password.
c.JupyterHub.authenticator_class = "null"
c.Authenticator.allowed_users = set(os.environ["HUB_TEST_STUDENTS"].split(","))
c.JupyterHub.services = [{"name": "hub-test", "api_token": os.environ["HUB_TEST_TOKEN"]}]
c.JupyterHub.load_roles = [
    {
        "name": "hub-test",
        "scopes": ["admin:users", "admin:servers", "access:servers", "list:users", "read:users"],
        "services": ["hub-test"],
    }
]

# A student's server sees what a student's login sees: no rustup, no cargo on PATH, only the
# system-wide kernelspec (/usr/local/share/jupyter) and the install it names.
c.Spawner.cmd = [f"{work}/venv/bin/jupyterhub-singleuser"]
c.Spawner.default_url = "/lab"
c.Spawner.env_keep = ["LANG", "LC_ALL"]
c.Spawner.environment = {"PATH": f"{work}/venv/bin:/usr/local/bin:/usr/bin:/bin"}
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 180
c.JupyterHub.cleanup_servers = True
