"""What the tests share: composed configs, the import walk, a project copy, servers, a browser."""
