"""Output: the one results table and its files (results), progress reporting, boxes and labels
drawn on images (drawing), Altair charts and Grad-CAM heatmaps (explain)."""
