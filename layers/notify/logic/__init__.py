"""What the product does, independent of HTTP and of AWS clients."""
