//! Stratified K-fold assignment.

use antidote_core::SplitMix64;

/// The fold (`0..folds`) of every record, stratified by label and shuffled with `seed`.
///
/// The records of each class are shuffled, the classes are laid end to end in label order, and
/// the records are dealt to the folds in turn. So each class is spread over the folds as evenly as
/// it can be (its count in two folds differs by at most one), and so are all records.
///
/// ```
/// let folds = antidote_learn::stratified_folds(&[0, 0, 0, 1, 1, 1], 3, 7);
/// for fold in 0..3 {
///     let members: Vec<usize> = (0..6).filter(|&row| folds[row] == fold).collect();
///     assert_eq!(members.len(), 2);
/// }
/// ```
///
/// # Panics
///
/// If `folds` is 0.
#[must_use]
pub fn stratified_folds(labels: &[usize], folds: usize, seed: u64) -> Vec<usize> {
    assert!(folds > 0, "at least one fold");
    let classes = labels.iter().max().map_or(0, |max| max + 1);
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); classes];
    for (row, &label) in labels.iter().enumerate() {
        by_class[label].push(row);
    }
    let mut random = SplitMix64::new(seed);
    let mut assignment = vec![0; labels.len()];
    let mut dealt = 0;
    for rows in &mut by_class {
        random.shuffle(rows);
        for &row in rows.iter() {
            assignment[row] = dealt % folds;
            dealt += 1;
        }
    }
    assignment
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_record_is_in_exactly_one_fold_and_classes_are_balanced() {
        // Three classes of 7, 5 and 1 records, sorted by class as datasets often are.
        let labels: Vec<usize> = [vec![0; 7], vec![1; 5], vec![2; 1]].concat();
        let folds = 3;
        let assignment = stratified_folds(&labels, folds, 42);
        assert_eq!(assignment.len(), labels.len());
        assert!(assignment.iter().all(|&fold| fold < folds));
        for class in 0..3 {
            let counts: Vec<usize> = (0..folds)
                .map(|fold| {
                    (0..labels.len())
                        .filter(|&row| labels[row] == class && assignment[row] == fold)
                        .count()
                })
                .collect();
            let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
            assert!(max - min <= 1, "class {class}: {counts:?}");
        }
        let sizes: Vec<usize> = (0..folds)
            .map(|fold| assignment.iter().filter(|&&f| f == fold).count())
            .collect();
        assert_eq!(sizes.iter().sum::<usize>(), labels.len());
        assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1);
        // The seed decides the shuffle, and only the seed.
        assert_eq!(assignment, stratified_folds(&labels, folds, 42));
        assert_ne!(assignment, stratified_folds(&labels, folds, 43));
    }
}
