//! Macros shared by the stages.

/// `get_ref`, `get_mut` and `into_inner` for a service whose inner service is the field `inner`
/// of type `S`; one line per service instead of three hand-written accessors.
macro_rules! define_inner_service_accessors {
    () => {
        /// The inner service.
        pub fn get_ref(&self) -> &S {
            &self.inner
        }

        /// The inner service, mutably.
        pub fn get_mut(&mut self) -> &mut S {
            &mut self.inner
        }

        /// Unwraps the inner service.
        pub fn into_inner(self) -> S {
            self.inner
        }
    };
}

pub(crate) use define_inner_service_accessors;
