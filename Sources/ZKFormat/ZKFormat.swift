// ZKFormat: see FORMAT.md
