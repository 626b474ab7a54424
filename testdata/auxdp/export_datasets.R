# Exports two classic clustering data sets from R's datasets package for the
# auxdp tests and examples. Run from this directory:
#   Rscript export_datasets.R
# faithful.csv: Old Faithful geyser, 272 eruptions (Azzalini & Bowman 1990):
#   eruption duration (minutes) and waiting time to the next one (minutes).
# iris.csv: Fisher's/Anderson's iris, 150 flowers, four measurements (cm)
#   and the species (the "truth" for clustering scores).
write.csv(datasets::faithful, "faithful.csv", row.names = FALSE, quote = FALSE)
iris <- datasets::iris
names(iris) <- c("sepal_length", "sepal_width", "petal_length", "petal_width", "species")
write.csv(iris, "iris.csv", row.names = FALSE, quote = FALSE)
