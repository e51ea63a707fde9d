"""Sales: order lines from an API, a file inbox and a shop database into the star schema."""
