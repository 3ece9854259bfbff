//! The store that carries a notebook's variables from one cell to the next, for the kernel.
//!
//! evcxr, which the kernel runs cells with, builds each cell as a library of its own. Between
//! cells, every variable waits in a store: a map from the variable's name to its value, boxed
//! as `dyn Any`; the next cell takes the values out by name and type and puts them back at its
//! end. evcxr writes that store's code into every cell it builds, so every cell's build
//! compiled a `HashMap<String, Box<dyn Any>>` (hashing, probing, growing, dropping) again: a
//! quarter of rustc's time on a tutorial cell (see the kernel's `cell_store.rs`).
//!
//! The kernel builds cells against this store instead (its `cell_store` puts a re-export of
//! this module where evcxr's code was). It offers the same items under the same names, so
//! evcxr's generated calls compile unchanged: [`VariableStore`] with `put_variable`,
//! `check_variable`, `take_variable`, `lazy_arc` and `merge`, [`create_variable_store`] and
//! the two marker lines evcxr reads from a cell's output. The map's work is compiled once,
//! here; a cell instantiates only what depends on a variable's type: boxing it, comparing its
//! `TypeId`, unboxing it.
//!
//! Not for use in programs: outside the kernel, a variable is just a variable.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;

/// The line a cell prints when a variable's type changed, followed by the variable's name:
/// evcxr forgets that variable.
pub const VARIABLE_CHANGED_TYPE: &str = "EVCXR_VARIABLE_CHANGED_TYPE:";
/// The line a cell prints when the user's code returned an error through `?`.
pub const USER_ERROR_OCCURRED: &str = "EVCXR_ERROR_OCCURRED";

/// A notebook's variables between cells, by name.
#[derive(Default)]
pub struct VariableStore {
    values: HashMap<String, Box<dyn Any>>,
}

impl VariableStore {
    pub fn new() -> VariableStore {
        VariableStore::default()
    }

    /// Keeps `value` under `name`, replacing what was there.
    pub fn put_variable<T: 'static>(&mut self, name: &str, value: T) {
        self.put_boxed(name, Box::new(value));
    }

    /// Whether the value kept under `name`, if any, is a `T`. When it is not (the cell
    /// declares the variable with another type than the cell that stored it), says so on
    /// stderr for the user and on stdout for evcxr, which then forgets the variable.
    pub fn check_variable<T: 'static>(&mut self, name: &str) -> bool {
        self.holds_type(name, TypeId::of::<T>())
    }

    /// Takes the `T` kept under `name` out of the store. Panics when there is none, or it is
    /// not a `T` (evcxr checks with `check_variable` first, so neither happens).
    pub fn take_variable<T: 'static>(&mut self, name: &str) -> T {
        match self.take_boxed(name).downcast::<T>() {
            Ok(value) => *value,
            Err(_) => panic!("Variable changed type"),
        }
    }

    /// The `Arc<T>` kept under `name`, made by `create` and kept on first use (evcxr keeps its
    /// async runtime this way).
    pub fn lazy_arc<T: 'static, F: FnOnce() -> T>(&mut self, name: &str, create: F) -> Arc<T> {
        // through the non-generic helpers only: the map's code stays out of the cell
        if self.boxed_mut(name).is_none() {
            self.put_boxed(name, Box::new(Arc::new(create())));
        }
        match self.boxed_mut(name).and_then(|value| value.downcast_mut::<Arc<T>>()) {
            Some(value) => Arc::clone(value),
            None => panic!("lazy_arc {name} changed type"),
        }
    }

    /// Moves every variable of `other` into this store; `other`'s win on equal names.
    pub fn merge(&mut self, other: VariableStore) {
        self.values.extend(other.values);
    }

    fn put_boxed(&mut self, name: &str, value: Box<dyn Any>) {
        self.values.insert(name.to_owned(), value);
    }

    fn holds_type(&self, name: &str, type_id: TypeId) -> bool {
        match self.values.get(name) {
            Some(value) if (**value).type_id() != type_id => {
                eprintln!("The type of the variable {name} was redefined, so was lost.");
                println!("{VARIABLE_CHANGED_TYPE}{name}");
                false
            }
            _ => true,
        }
    }

    fn take_boxed(&mut self, name: &str) -> Box<dyn Any> {
        match self.values.remove(name) {
            Some(value) => value,
            None => panic!("Variable '{name}' has gone missing"),
        }
    }

    fn boxed_mut(&mut self, name: &str) -> Option<&mut Box<dyn Any>> {
        self.values.get_mut(name)
    }
}

/// A new, empty store, owned by whoever holds the pointer: the first cell with a variable
/// makes it, and evcxr hands it to every cell after.
pub fn create_variable_store() -> *mut VariableStore {
    Box::into_raw(Box::new(VariableStore::new()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prelude::*;

    #[test]
    fn variables_go_in_and_come_out_by_name_and_type() {
        let mut store = VariableStore::new();
        store.put_variable("x", tensor!([1., 2.]));
        store.put_variable("n", 3_i64);
        store.put_variable("s", String::from("text"));
        assert!(store.check_variable::<Tensor>("x"));
        assert!(store.check_variable::<i64>("n"));
        // a name not in the store passes: the cell declares a new variable
        assert!(store.check_variable::<f64>("new"));
        assert_eq!(store.take_variable::<Tensor>("x").to_string(), "tensor([1., 2.])");
        assert_eq!(store.take_variable::<i64>("n"), 3);
        assert_eq!(store.take_variable::<String>("s"), "text");
        // put back under the same name: replaced
        store.put_variable("n", 4_i64);
        store.put_variable("n", 5_i64);
        assert_eq!(store.take_variable::<i64>("n"), 5);
    }

    #[test]
    fn a_value_of_another_type_fails_the_check_and_stays() {
        let mut store = VariableStore::new();
        store.put_variable("n", 3_i32);
        assert!(!store.check_variable::<i64>("n"));
        assert!(store.check_variable::<i32>("n"));
        assert_eq!(store.take_variable::<i32>("n"), 3);
    }

    #[test]
    #[should_panic(expected = "Variable 'gone' has gone missing")]
    fn taking_a_missing_variable_panics() {
        VariableStore::new().take_variable::<i64>("gone");
    }

    #[test]
    #[should_panic(expected = "Variable changed type")]
    fn taking_a_variable_as_another_type_panics() {
        let mut store = VariableStore::new();
        store.put_variable("n", 1_u8);
        store.take_variable::<i64>("n");
    }

    #[test]
    fn lazy_arc_makes_the_value_once_and_shares_it() {
        let mut store = VariableStore::new();
        let mut made = 0;
        let first = store.lazy_arc("runtime", || {
            made += 1;
            vec![1, 2]
        });
        let again = store.lazy_arc("runtime", || -> Vec<i32> { unreachable!("made twice") });
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(made, 1);
    }

    #[test]
    #[should_panic(expected = "lazy_arc runtime changed type")]
    fn lazy_arc_of_another_type_panics() {
        let mut store = VariableStore::new();
        store.lazy_arc("runtime", || 1_u8);
        store.lazy_arc("runtime", || 1_u16);
    }

    #[test]
    fn merge_moves_the_others_variables_in() {
        let mut store = VariableStore::new();
        store.put_variable("a", 1_i64);
        store.put_variable("b", 2_i64);
        let mut other = VariableStore::new();
        other.put_variable("b", 20_i64);
        other.put_variable("c", 30_i64);
        store.merge(other);
        assert_eq!(["a", "b", "c"].map(|name| store.take_variable::<i64>(name)), [1, 20, 30]);
    }

    #[test]
    fn the_store_made_for_a_cell_is_empty_and_owned_by_the_pointer() {
        let store = create_variable_store();
        assert!(!store.is_null());
        // SAFETY: made by Box::into_raw just above, taken back once
        let store = unsafe { Box::from_raw(store) };
        assert!(store.values.is_empty());
    }
}
