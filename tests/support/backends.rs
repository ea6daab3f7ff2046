//! One test body, run against every SQL backend: `backend_cases!(a, b)`
//! makes `postgres::a`, `mariadb::a`, `sqlite::a`, … each calling the
//! test file's `a(db)` with a `crate::Db` for that backend (skipped when
//! its server does not answer outside CI).

#[macro_export]
macro_rules! backend_cases {
    ($($case:ident),+ $(,)?) => {
        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    let Some(db) = $crate::Db::postgres().await else { return };
                    super::$case(db).await;
                }
            )+
        }

        mod mariadb {
            $(
                #[tokio::test]
                async fn $case() {
                    let Some(db) = $crate::Db::mariadb().await else { return };
                    super::$case(db).await;
                }
            )+
        }

        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case($crate::Db::sqlite().await).await;
                }
            )+
        }
    };
}
