x = canvas(3, 2, 2)
y = shrink(x, 3)
