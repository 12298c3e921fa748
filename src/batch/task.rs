//! This task's place in its job, from the platform's variables (Cloud Run Jobs, Kubernetes
//! Indexed Jobs, AWS Batch array jobs), and its share of a batch manifest.

use serde::Serialize;

/// This task's place in its job, from the platform's variables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskContext {
    pub index: u64,
    pub count: u64,
    /// 0 on the first attempt.
    pub attempt: u64,
    /// Which platform's variables it came from (`cloud-run`, `kubernetes`, `aws-batch`, `none`).
    pub platform: &'static str,
}

impl TaskContext {
    /// Read the task context from `var` (the process environment in production).
    ///
    /// - Cloud Run Jobs: `CLOUD_RUN_TASK_INDEX`, `CLOUD_RUN_TASK_COUNT`, `CLOUD_RUN_TASK_ATTEMPT`.
    /// - Kubernetes Indexed Jobs: `JOB_COMPLETION_INDEX`; the count is not in the environment:
    ///   set `CUTLIST_TASK_COUNT` to the Job's `completions`.
    /// - AWS Batch array jobs: `AWS_BATCH_JOB_ARRAY_INDEX`, `AWS_BATCH_JOB_ARRAY_SIZE`,
    ///   `AWS_BATCH_JOB_ATTEMPT` (1-based).
    ///
    /// `CUTLIST_TASK_INDEX` / `CUTLIST_TASK_COUNT` override, for anything else.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> std::result::Result<TaskContext, String> {
        let num = |name: &str| -> std::result::Result<Option<u64>, String> {
            match var(name) {
                None => Ok(None),
                Some(v) => v.trim().parse().map(Some).map_err(|_| format!("{name}={v:?} is not a whole number")),
            }
        };
        let (platform, index, count, attempt) = if let Some(i) = num("CLOUD_RUN_TASK_INDEX")? {
            ("cloud-run", i, num("CLOUD_RUN_TASK_COUNT")?, num("CLOUD_RUN_TASK_ATTEMPT")?.unwrap_or(0))
        } else if let Some(i) = num("JOB_COMPLETION_INDEX")? {
            ("kubernetes", i, None, 0)
        } else if let Some(i) = num("AWS_BATCH_JOB_ARRAY_INDEX")? {
            (
                "aws-batch",
                i,
                num("AWS_BATCH_JOB_ARRAY_SIZE")?,
                num("AWS_BATCH_JOB_ATTEMPT")?.map(|a| a.saturating_sub(1)).unwrap_or(0),
            )
        } else {
            ("none", 0, Some(1), 0)
        };
        let index = num("CUTLIST_TASK_INDEX")?.unwrap_or(index);
        let count = num("CUTLIST_TASK_COUNT")?.or(count).ok_or_else(|| {
            format!(
                "the task count is not in the environment on {platform}: set CUTLIST_TASK_COUNT to the number of tasks"
            )
        })?;
        if count == 0 || index >= count {
            return Err(format!("task index {index} is not below the task count {count}"));
        }
        Ok(TaskContext { index, count, attempt, platform })
    }

    pub fn from_env() -> std::result::Result<TaskContext, String> {
        Self::from_vars(|k| std::env::var(k).ok())
    }

    /// This task's entries of a manifest of `n` entries: every `count`-th from `index`.
    pub fn share(&self, n: usize) -> impl Iterator<Item = usize> + '_ {
        (self.index as usize..n).step_by(self.count as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(vars: &[(&str, &str)]) -> std::result::Result<TaskContext, String> {
        TaskContext::from_vars(|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string()))
    }

    #[test]
    fn reads_each_platform() {
        let c = ctx(&[("CLOUD_RUN_TASK_INDEX", "2"), ("CLOUD_RUN_TASK_COUNT", "5"), ("CLOUD_RUN_TASK_ATTEMPT", "1")])
            .unwrap();
        assert_eq!((c.index, c.count, c.attempt, c.platform), (2, 5, 1, "cloud-run"));
        let c = ctx(&[("JOB_COMPLETION_INDEX", "3"), ("CUTLIST_TASK_COUNT", "4")]).unwrap();
        assert_eq!((c.index, c.count, c.platform), (3, 4, "kubernetes"));
        assert!(ctx(&[("JOB_COMPLETION_INDEX", "3")]).unwrap_err().contains("CUTLIST_TASK_COUNT"));
        let c = ctx(&[
            ("AWS_BATCH_JOB_ARRAY_INDEX", "0"),
            ("AWS_BATCH_JOB_ATTEMPT", "2"),
            ("AWS_BATCH_JOB_ARRAY_SIZE", "2"),
        ])
        .unwrap();
        assert_eq!((c.index, c.count, c.attempt, c.platform), (0, 2, 1, "aws-batch"));
        assert_eq!(ctx(&[]).unwrap(), TaskContext { index: 0, count: 1, attempt: 0, platform: "none" });
        assert!(ctx(&[("CLOUD_RUN_TASK_INDEX", "5"), ("CLOUD_RUN_TASK_COUNT", "5")]).is_err());
    }

    #[test]
    fn shares_cover_every_entry_once() {
        let mut seen = vec![0; 10];
        for i in 0..3 {
            let c = TaskContext { index: i, count: 3, attempt: 0, platform: "none" };
            for k in c.share(10) {
                seen[k] += 1;
            }
        }
        assert_eq!(seen, vec![1; 10]);
    }
}
