"""Pure domain rules: cadences and periods, eligibility, holdout, contact rules, vocabulary, segments."""
