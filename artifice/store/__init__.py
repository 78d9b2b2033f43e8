"""The billing database: what has been billed is what the database says."""
