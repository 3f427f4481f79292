"""The MindDocs application: settings, errors, services, the web app and the CLI."""
