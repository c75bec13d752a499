"""Browser tests: the /pilot surface and the embed loader in Chromium."""
