pub mod backends;
pub mod mariadb;
pub mod postgres;
pub mod throwaway;
pub mod workspace;
