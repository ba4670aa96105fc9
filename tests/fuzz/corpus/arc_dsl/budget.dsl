x1 = upscale(I, 20)
x2 = largest(x1, 0)
O = downscale(x2, 20)
