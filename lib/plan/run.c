typedef int cog_placeholder_plan_run;
