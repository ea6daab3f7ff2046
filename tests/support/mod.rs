pub mod mariadb;
pub mod postgres;
pub mod workspace;
