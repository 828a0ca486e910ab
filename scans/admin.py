# Admin classes arrive with the first model.
