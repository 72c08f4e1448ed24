//! The lifespan state: values an app sets up once and every request can read.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex, PoisonError};

type Value = Arc<dyn Any + Send + Sync>;
type Map = HashMap<TypeId, Value, BuildHasherDefault<IdHasher>>;

/// A `TypeId` is already a hash: it is used as one instead of being hashed
/// again with SipHash on every lookup (as `http::Extensions` does).
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        // `TypeId` writes a `u64`; anything else is folded in FNV-1a's way.
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u64(&mut self, id: u64) {
        self.0 = id;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Per-request state: a shallow copy of the lifespan state.
///
/// ASGI's `scope["state"]` is a dict that the lifespan handler fills and the
/// server shallow-copies into every request scope, so that a request may add
/// keys without other requests seeing them while sharing the objects
/// themselves (a connection pool, say). `State` is that, keyed by type as
/// [`http::Extensions`] is: cloning it is one reference-count increment and
/// the map is copied only when a request writes to it.
///
/// # Example
///
/// ```
/// use asgi_core::State;
///
/// #[derive(Debug, PartialEq)]
/// struct Greeting(&'static str);
///
/// let mut shared = State::default();
/// shared.insert(Greeting("hi"));
///
/// let mut request = shared.clone();
/// request.insert(42_u32);
///
/// assert_eq!(request.get::<Greeting>(), Some(&Greeting("hi")));
/// assert_eq!(shared.get::<u32>(), None); // the copy is shallow
/// ```
#[derive(Clone, Default)]
pub struct State {
    map: Option<Arc<Map>>,
}

impl State {
    /// An empty state; does not allocate.
    pub const fn new() -> Self {
        Self { map: None }
    }

    /// The value of type `T`, if one was inserted.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.map
            .as_ref()?
            .get(&TypeId::of::<T>())
            .and_then(|v| v.downcast_ref())
    }

    /// The value of type `T` as a shared pointer, to keep beyond the scope.
    pub fn get_arc<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.map
            .as_ref()?
            .get(&TypeId::of::<T>())
            .cloned()
            .and_then(|v| v.downcast().ok())
    }

    /// Inserts a value, replacing any earlier value of the same type.
    ///
    /// Copies the map first if another `State` shares it (copy on write).
    pub fn insert<T: Send + Sync + 'static>(&mut self, value: T) {
        self.insert_arc(Arc::new(value));
    }

    /// Inserts a value that is already behind an [`Arc`].
    pub fn insert_arc<T: Send + Sync + 'static>(&mut self, value: Arc<T>) {
        let map = self.map.get_or_insert_with(Default::default);
        Arc::make_mut(map).insert(TypeId::of::<T>(), value);
    }

    /// Removes the value of type `T`, returning whether there was one.
    pub fn remove<T: Send + Sync + 'static>(&mut self) -> bool {
        match self.map.as_mut() {
            Some(map) => Arc::make_mut(map).remove(&TypeId::of::<T>()).is_some(),
            None => false,
        }
    }

    /// How many values there are.
    pub fn len(&self) -> usize {
        self.map.as_ref().map_or(0, |m| m.len())
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("State").field("len", &self.len()).finish()
    }
}

/// The state namespace of a lifespan scope, shared by the app and the server.
///
/// The app fills it while handling `lifespan.startup`; once the app sends
/// `lifespan.startup.complete` the server takes a [`snapshot`](Self::snapshot)
/// and hands a clone of it to every request scope. Clones of a
/// `LifespanState` point at the same namespace.
#[derive(Clone, Default)]
pub struct LifespanState {
    inner: Arc<Mutex<State>>,
}

impl LifespanState {
    /// A new, empty namespace.
    pub fn new() -> Self {
        Self::default()
    }

    /// Inserts a value, replacing any earlier value of the same type.
    pub fn insert<T: Send + Sync + 'static>(&self, value: T) {
        self.lock(|state| state.insert(value));
    }

    /// Inserts a value that is already behind an [`Arc`].
    pub fn insert_arc<T: Send + Sync + 'static>(&self, value: Arc<T>) {
        self.lock(|state| state.insert_arc(value));
    }

    /// The value of type `T`, if one was inserted.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.lock(|state| state.get_arc())
    }

    /// The state as it is now, to be cloned into request scopes.
    pub fn snapshot(&self) -> State {
        self.lock(|state| state.clone())
    }

    fn lock<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        // A panic while holding this lock cannot leave the map half-written
        // (HashMap insert is not observable mid-way), so poison is ignored.
        let mut guard = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut guard)
    }
}

impl fmt::Debug for LifespanState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("LifespanState")
            .field(&self.snapshot())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_state_has_nothing() {
        let state = State::new();

        assert!(state.is_empty());
        assert_eq!(state.get::<u8>(), None);
    }

    #[test]
    fn request_write_does_not_leak_into_lifespan_state() {
        let lifespan = LifespanState::new();
        lifespan.insert(String::from("pool"));
        let snapshot = lifespan.snapshot();

        let mut request = snapshot.clone();
        request.insert(7_i64);
        request.remove::<String>();

        assert_eq!(snapshot.get::<String>().map(String::as_str), Some("pool"));
        assert_eq!(snapshot.get::<i64>(), None);
        assert_eq!(request.len(), 1);
    }

    #[test]
    fn shared_values_are_the_same_object() {
        let mut state = State::new();
        state.insert_arc(Arc::new(Mutex::new(0)));
        let copy = state.clone();

        *state.get::<Mutex<i32>>().unwrap().lock().unwrap() += 1;

        assert_eq!(*copy.get::<Mutex<i32>>().unwrap().lock().unwrap(), 1);
    }

    #[test]
    fn lifespan_clones_share_one_namespace() {
        let a = LifespanState::new();
        let b = a.clone();

        b.insert(5_u16);

        assert_eq!(a.get::<u16>().as_deref(), Some(&5));
    }
}
