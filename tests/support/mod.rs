pub mod backends;
pub mod daemon;
pub mod mariadb;
pub mod pg_cluster;
pub mod postgres;
pub mod throwaway;
pub mod workspace;
