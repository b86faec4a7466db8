//! The project's contracts, generated from `proto/`: gRPC services and the
//! case log's event messages. Nothing here is written by hand but the module tree.

/// The serialized `FileDescriptorSet` of every contract, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/approdo_descriptor.bin"));

pub mod log {
    pub mod v1 {
        tonic::include_proto!("approdo.log.v1");
    }
}

pub mod admin {
    pub mod v1 {
        tonic::include_proto!("approdo.admin.v1");
    }
}

pub mod person {
    pub mod v1 {
        tonic::include_proto!("approdo.person.v1");
    }
}

pub mod screening {
    pub mod v1 {
        tonic::include_proto!("approdo.screening.v1");
    }
}

pub mod referral {
    pub mod v1 {
        tonic::include_proto!("approdo.referral.v1");
    }
}

pub mod safe_space {
    pub mod v1 {
        tonic::include_proto!("approdo.safe_space.v1");
    }
}

pub mod vocabulary {
    pub mod v1 {
        tonic::include_proto!("approdo.vocabulary.v1");
    }
}

pub mod monitoring {
    pub mod v1 {
        tonic::include_proto!("approdo.monitoring.v1");
    }
}

pub mod access {
    pub mod v1 {
        tonic::include_proto!("approdo.access.v1");
    }
}
