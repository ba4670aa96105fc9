x1 = mostcolor(I)
O = rot90(x1)
