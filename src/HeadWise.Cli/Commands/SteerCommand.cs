using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using HeadWise.Eval;
using HeadWise.Heads;
using HeadWise.Models;
using HeadWise.Steering;

namespace HeadWise.Cli.Commands;

/// <summary>
/// `headwise steer zerotuning|act|inject`: finds a steering on a dev split of a task, judges it on a test split drawn
/// from another seed against the unsteered model (95% intervals), and saves it for `bench`/`sweep --steer`.
/// </summary>
internal static class SteerCommand
{
    private static readonly Dictionary<string, (string Help, IReadOnlyList<SteeringParams.Key> Keys)> Methods = new()
    {
        ["zerotuning"] = ("ZeroTuning (Han et al. 2025): scale the attention chosen heads give the first token; heads and scale searched on the dev split",
            ZeroTuning.SearchOptions.Keys),
        ["act"] = ("ACT (Yu et al. 2024): lower hidden attention sinks (non-first tokens drawing most attention) in the heads where that helps on the dev split",
            AttentionCalibration.Keys),
        ["inject"] = ("Soft injection of task embeddings (Park and Rhee 2025): mix few-shot mean head outputs into zero-shot prompts with learned per-head weights",
            SoftInjection.LearnOptions.Keys),
    };

    public static Command Create()
    {
        var command = new Command("steer", "Find a head steering on a task's dev split, judge it on a disjoint test split, save it (bench/sweep --steer)");
        foreach (var (name, (help, keys)) in Methods) command.Subcommands.Add(Method(name, help, keys));
        return command;
    }

    private static Command Method(string method, string help, IReadOnlyList<SteeringParams.Key> keys)
    {
        var model = CommonOptions.Model();
        var load = new LoadOptionSet();
        var eval = new EvalOptions(lengths: "512", depths: "0.1,0.3,0.5,0.7,0.9");
        var dev = new Option<int>("--dev") { Description = "Prompts in the dev split the steering is found on", DefaultValueFactory = _ => 20 }.InRange(1, 100_000);
        var test = new Option<int>("--test") { Description = "Prompts in the test split it is judged on (seed + 1)", DefaultValueFactory = _ => 100 }.InRange(1, 100_000);
        var parameters = new Option<string?>("--steer-params") { Description = "key=value,... " + string.Join("; ", keys.Select(k => k.Usage)) };
        var output = new Option<string>("--out") { Description = "Steering file to write", DefaultValueFactory = _ => $"steering-{method}.json" };
        var json = CommonOptions.Json();
        var command = new Command(method, help) { model, dev, test, parameters, output, json };
        foreach (var o in load.All.Concat(eval.All.Where(o => o != eval.Samples))) command.Options.Add(o);
        command.SetAction(r => CliRun.Guard(() =>
        {
            var task = TaskRegistry.Create(r.GetValue(eval.Task)!);
            var grid = eval.Read(r);
            string text = r.GetValue(parameters) ?? "";
            SteeringParams.Parse(method, text, keys); // a bad key or range fails before the model loads
            using var m = ModelLoader.Load(CommonOptions.ResolveModel(r.GetValue(model)!), load.Get(r));
            var splits = new SteeringSplits(m, task, grid, r.GetValue(dev), r.GetValue(test));
            Console.Error.WriteLine($"{method}: dev {splits.Dev.Samples * Cells(task, grid)} prompts (seed {splits.Dev.Seed}), test {splits.Test.Samples * Cells(task, grid)} (seed {splits.Test.Seed})");
            var (steering, devReport) = Find(method, text, m, task, splits);
            var plain = splits.TestScores(null);
            var steered = splits.TestScores(new HookSet().Add(steering));
            var (before, after, diff) = (Interval.Of(plain), Interval.Of(steered), Interval.Difference(plain, steered));
            string verdict = diff.Low > 0 ? "helps" : diff.High < 0 ? "hurts" : "does not help (the interval of the difference includes 0)";
            var found = new JsonObject
            {
                ["task"] = task.Name, ["lengths"] = new JsonArray([.. grid.Lengths.Select(x => (JsonNode)x)]),
                ["depths"] = task.HasDepth ? new JsonArray([.. grid.Depths.Select(x => (JsonNode)x)]) : null,
                ["dev"] = new JsonObject { ["seed"] = splits.Dev.Seed, ["prompts"] = splits.Dev.Samples * Cells(task, grid) },
                ["test"] = new JsonObject { ["seed"] = splits.Test.Seed, ["prompts"] = plain.Length },
                ["search"] = devReport,
                ["test_unsteered"] = Json(before), ["test_steered"] = Json(after), ["test_difference"] = Json(diff), ["verdict"] = verdict,
            };
            var path = r.GetValue(output)!;
            SteeringFile.Save(path, steering, m.Spec, found);
            Console.WriteLine($"{m.DisplayName} {task.Name} {method}: {SteeringFile.Describe(steering)}");
            Console.WriteLine($"test unsteered {before}, steered {after}; difference {diff.Mean * 100:+0.0;-0.0} points [{diff.Low * 100:F1}, {diff.High * 100:F1}]: {verdict}");
            Console.WriteLine($"wrote {path}");
            if (r.GetValue(json) is string jp) File.WriteAllText(jp, SteeringFile.ToJson(steering, m.Spec, found).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }));
        return command;
    }

    private static (ISteering Steering, JsonObject Report) Find(string method, string parameters, LoadedModel m, IEvalTask task, SteeringSplits splits)
    {
        var bar = new ProgressBar(method);
        int tried = 0, heads = m.Spec.Layers * m.Spec.Heads;
        // Dev runs: unsteered, each head alone (twice for ZeroTuning's two probes), then the scales or the result.
        int total = method switch { "zerotuning" => 1 + 2 * heads + 5, "act" => 2 + heads, _ => 2 };
        double Score(HookSet? hooks) { bar.Report(Math.Min(++tried, total), total, "dev runs"); return splits.DevScore(hooks); }
        switch (method)
        {
            case "zerotuning":
            {
                var (s, log) = ZeroTuning.Search(m.Spec, Score, ZeroTuning.SearchOptions.Parse(parameters));
                return (s, new JsonObject
                {
                    ["dev_unsteered"] = log.Baseline, ["dev_steered"] = log.Grid.Count == 0 ? log.Baseline : log.Grid.Max(g => g.Score),
                    ["profile"] = new JsonArray([.. log.Profile.Select(p => (JsonNode)new JsonObject { ["head"] = p.Head.ToString(), ["gain_down"] = p.Down, ["gain_up"] = p.Up })]),
                    ["grid"] = new JsonArray([.. log.Grid.Select(g => (JsonNode)new JsonObject { ["scale"] = g.Scale, ["dev"] = g.Score })]),
                });
            }
            case "act":
            {
                var (threshold, beta) = AttentionCalibration.Parse(parameters);
                var (s, gains, baseline) = AttentionCalibration.Search(m.Spec, Score, threshold, beta);
                return (s, new JsonObject
                {
                    ["dev_unsteered"] = baseline, ["dev_steered"] = s.Heads.Count == 0 ? baseline : Score(new HookSet().Add(s)),
                    ["gains"] = new JsonArray([.. gains.Select(g => (JsonNode)new JsonObject { ["head"] = g.Head.ToString(), ["gain"] = g.Gain })]),
                });
            }
            default:
            {
                var o = SoftInjection.LearnOptions.Parse(parameters);
                int length = splits.Dev.Lengths.Max(), answer = task.AnswerTokens;
                int shots = Math.Max(1, Math.Min(o.Shots, (m.Spec.ContextLength - length) / (length + answer)));
                var embedding = SoftInjection.TaskEmbedding(m.Transformer, splits.FewShotPrompts(o.Prompts, shots));
                var s = SoftInjection.Learn(m.Transformer, embedding, splits.DevAnswers(), o);
                return (s, new JsonObject
                {
                    ["few_shot_prompts"] = o.Prompts, ["shots"] = shots, ["epochs"] = o.Epochs, ["lr"] = o.LearningRate,
                    ["dev_unsteered"] = Score(null), ["dev_steered"] = Score(new HookSet().Add(s)),
                });
            }
        }
    }

    private static int Cells(IEvalTask task, TaskOptions grid) => grid.Lengths.Count * (task.HasDepth ? grid.Depths.Count : 1);

    private static JsonObject Json(Interval i) => new() { ["mean"] = i.Mean, ["low"] = i.Low, ["high"] = i.High, ["n"] = i.N };
}
