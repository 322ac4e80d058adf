#include "analyzer/hooks.hpp"

#include "pg/guard.hpp"

extern "C" {
#include "executor/executor.h"
#include "optimizer/planner.h"
}

namespace presplit::analyzer {
namespace {

planner_hook_type previous_planner = nullptr;
ExecutorStart_hook_type previous_executor_start = nullptr;
ExecutorEnd_hook_type previous_executor_end = nullptr;

PlannedStmt* plan_query(Query* parse, const char* query_string, int cursor_options,
                        ParamListInfo bound_params) {
    return pg::entry([&] {
        return pg::call([&] {
            return previous_planner
                       ? previous_planner(parse, query_string, cursor_options, bound_params)
                       : standard_planner(parse, query_string, cursor_options, bound_params);
        });
    });
}

void start_executor(QueryDesc* query_desc, int eflags) {
    pg::entry([&] {
        pg::call([&] {
            if (previous_executor_start)
                previous_executor_start(query_desc, eflags);
            else
                standard_ExecutorStart(query_desc, eflags);
        });
    });
}

void end_executor(QueryDesc* query_desc) {
    pg::entry([&] {
        pg::call([&] {
            if (previous_executor_end)
                previous_executor_end(query_desc);
            else
                standard_ExecutorEnd(query_desc);
        });
    });
}

} // namespace

void install_hooks() {
    previous_planner = planner_hook;
    planner_hook = plan_query;
    previous_executor_start = ExecutorStart_hook;
    ExecutorStart_hook = start_executor;
    previous_executor_end = ExecutorEnd_hook;
    ExecutorEnd_hook = end_executor;
}

} // namespace presplit::analyzer
