"""Group buys (inkoopacties): from first interest to contract."""
