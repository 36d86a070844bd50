"""What the tests share: real servers, the mail corpus, a browser, installations."""
