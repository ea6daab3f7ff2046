pub mod mariadb;
pub mod postgres;
