//! Code generated from proto/ by build.rs, and the descriptor set it was built from.

#[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
pub mod gitpod {
    pub mod v1 {
        tonic::include_proto!("gitpod.v1");
    }
}

/// paddock's own services (not in the Ona API).
#[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
pub mod paddock {
    pub mod v1 {
        tonic::include_proto!("paddock.v1");
    }
}

/// Serialized `FileDescriptorSet` of every file in proto/ (with its imports).
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("paddock_descriptor");
