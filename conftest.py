"""The HyperShift scale harness: one pytest plugin module per concern, in plugins/."""

pytest_plugins = [
    "pytester",
    "plugins.secrets",
    "plugins.options",
    "plugins.session",
    "plugins.lifecycle",
    "plugins.load",
    "plugins.reporting",
    "plugins.junit",
    "plugins.htmlreport",
    "plugins.recording",
    "plugins.elastic",
]
