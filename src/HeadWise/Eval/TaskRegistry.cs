using HeadWise.Eval.Tasks;

namespace HeadWise.Eval;

/// <summary>Task names the CLI accepts.</summary>
public static class TaskRegistry
{
    private static readonly Dictionary<string, Func<IEvalTask>> Tasks = new(StringComparer.Ordinal)
    {
        ["copy"] = () => new CopyTask(),
        ["copy-shuffled"] = () => new CopyTask(shuffled: true),
        ["passkey"] = () => new PasskeyTask(),
        ["niah"] = () => new NiahTask(),
        ["multikey"] = () => new MultikeyTask(),
        ["perplexity"] = () => new PerplexityTask(),
    };

    public static IReadOnlyCollection<string> Names => Tasks.Keys;

    public static IEvalTask Create(string name) =>
        Tasks.TryGetValue(name, out var make) ? make()
        : throw new HeadWiseException($"unknown task '{name}'; known tasks: {string.Join(", ", Tasks.Keys)}");
}
