"""The kinds of sales source (SPEC section 7), one module each."""
