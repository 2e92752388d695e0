using HeadWise.Eval;
using HeadWise.KvCache;
using HeadWise.Models;

namespace HeadWise.Training;

/// <summary>One cell of the evaluation harness's grid: a task at one prompt length and needle depth, full cache.</summary>
public sealed record HarnessCell(string Task, int Length, double Depth, int Samples, double Accuracy);

/// <summary>
/// The evaluation harness (`headwise bench`, full cache, seed 1, as the CLI runs it by default) over the needle tasks at
/// several lengths and depths, for the model card: what a user measures, on the exported GGUF.
/// </summary>
public static class HarnessCheck
{
    public static readonly string[] Tasks = ["passkey", "niah", "multikey"];
    public static readonly double[] Depths = [0.1, 0.3, 0.5, 0.7, 0.9];

    /// <summary>Room for the longest answer (niah's 32 tokens) after the prompt.</summary>
    public const int AnswerRoom = 32;

    /// <summary>256 to 1,536 tokens and the longest prompt the context holds (2,016 for 2,048), within the context.</summary>
    public static int[] Lengths(int context) =>
        [.. new[] { 256, 512, 768, 1024, 1536, context - AnswerRoom }.Where(l => l >= 64 && l <= context - AnswerRoom).Distinct().Order()];

    public static List<HarnessCell> Run(LoadedModel model, string haystack, int samples, Action<string> log)
    {
        var cells = new List<HarnessCell>();
        var full = new PolicyCacheFactory("full", KvBudget.All, CompressModes.Default);
        foreach (var name in Tasks)
            foreach (int length in Lengths(model.Spec.ContextLength))
            {
                var options = new TaskOptions { Lengths = [length], Depths = Depths, Samples = samples, Seed = 1, HaystackPath = haystack };
                BenchResult r;
                try { r = BenchRunner.Run(model, TaskRegistry.Create(name), options, full); }
                catch (HeadWiseException e) when (e.Message.Contains("too short"))
                {
                    log($"harness: {name} at {length} tokens: {e.Message}");
                    continue;
                }
                cells.AddRange(r.Grid.Select(g => new HarnessCell(name, g.Length, g.Depth!.Value, g.Samples, g.Accuracy)));
                log($"harness: {name} at {length} tokens: {r.Accuracy:P1} ({string.Join(", ", r.Grid.Select(g => $"{g.Depth}: {g.Accuracy:P0}"))})");
            }
        return cells;
    }
}
