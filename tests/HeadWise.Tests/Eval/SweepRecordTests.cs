using System.Text.Json;
using HeadWise.Eval;
using HeadWise.Models;

namespace HeadWise.Tests.Eval;

/// <summary>
/// Issue 23 (SweepRunner): what a sweep directory holds and which settings it records. A cell is DIR/cells/KEY.json;
/// DIR/timings.json lists every cell's policy and budget; sweep.json records the settings that change a cell (a needle
/// task's depths, the haystack's name), so resuming with other ones is refused, and not those that change nothing (the
/// depths of a task without a needle); every cell's policy is checked before the first runs.
/// </summary>
public class SweepRecordTests
{
    private static readonly Lazy<LoadedModel> Stories = new(() => ModelLoader.Load(TestPaths.Stories260KGguf));

    private static SweepPlan Copy => new("copy", ["full", "streaming"], ["0.5"], new TaskOptions { Lengths = [41], Seed = 2 });

    [Fact]
    public void Cells_are_files_named_by_key_and_timings_list_every_cell()
    {
        var dir = TestPaths.NewTempDir();
        SweepRunner.Run(Stories.Value, Copy, dir);
        Assert.Equal(["full@1.0.json", "streaming@0.5.json"], Directory.GetFiles(Path.Combine(dir, "cells")).Select(Path.GetFileName).Order());
        using var timings = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "timings.json")));
        var rows = timings.RootElement.EnumerateArray().ToList();
        Assert.Equal(["full 1.0", "streaming 0.5"], rows.Select(r => $"{Prop(r, "policy")} {Prop(r, "budget")}"));
        Assert.All(rows, r => Assert.True(r.EnumerateObject().Any(p => p.Name.Contains("wall", StringComparison.OrdinalIgnoreCase))));
    }

    private static string? Prop(JsonElement e, string name) =>
        e.EnumerateObject().First(p => p.Name.Equals(name, StringComparison.OrdinalIgnoreCase)).Value.GetString();

    [Fact]
    public void Depths_are_recorded_for_a_needle_task_only()
    {
        var m = Stories.Value;
        var copyDir = TestPaths.NewTempDir();
        SweepRunner.Run(m, Copy, copyDir);
        // Copy has no needle: other depths change none of its cells, so the sweep resumes.
        var again = SweepRunner.Run(m, Copy with { Options = Copy.Options with { Depths = [0.1, 0.9] } }, copyDir);
        Assert.Equal(2, again.Count);

        var passkey = new SweepPlan("passkey", ["full"], ["0.5"], new TaskOptions { Lengths = [120], Depths = [0.5], Seed = 2 });
        var dir = TestPaths.NewTempDir();
        SweepRunner.Run(m, passkey, dir);
        var e = Assert.Throws<HeadWiseException>(() => SweepRunner.Run(m, passkey with { Options = passkey.Options with { Depths = [0.25] } }, dir));
        Assert.Contains("different settings", e.Message);
    }

    [Fact]
    public void Another_haystack_is_refused()
    {
        var m = Stories.Value;
        var other = Path.Combine(TestPaths.NewTempDir(), "other-haystack.txt");
        File.Copy(TestPaths.MobyDick, other);
        var plan = Copy with { Options = Copy.Options with { HaystackPath = TestPaths.MobyDick } };
        var dir = TestPaths.NewTempDir();
        SweepRunner.Run(m, plan, dir);
        var e = Assert.Throws<HeadWiseException>(() => SweepRunner.Run(m, plan with { Options = plan.Options with { HaystackPath = other } }, dir));
        Assert.Contains("different settings", e.Message);
    }

    [Fact]
    public void A_bad_policy_parameter_fails_before_any_cell_runs()
    {
        var dir = TestPaths.NewTempDir();
        var plan = Copy with { Parameters = new Dictionary<string, string> { ["streaming"] = "bogus=1" } };
        var e = Assert.Throws<HeadWiseException>(() => SweepRunner.Run(Stories.Value, plan, dir));
        Assert.Contains("bogus", e.Message);
        // full comes first in the plan and is fine, yet it did not run.
        Assert.False(Directory.Exists(Path.Combine(dir, "cells")) && Directory.EnumerateFiles(Path.Combine(dir, "cells")).Any());
    }
}
