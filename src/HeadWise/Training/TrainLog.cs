using System.Text.Json;

namespace HeadWise.Training;

/// <summary>
/// One optimisation step as the log records it: <see cref="Seconds"/> of wall time and <see cref="CpuSeconds"/> of process
/// CPU time since the run began, and the machine's 1-minute load average (how busy it was with other work too).
/// </summary>
public sealed record StepRecord(int Step, double Loss, double Lr, double GradNorm, int SeqLen, int Batch, long Tokens, double Seconds,
    double CpuSeconds = 0, double? Load = null);

/// <summary>The training log (one JSON line per step).</summary>
public sealed class TrainLog(string path, int resumeStep) : JsonLines<StepRecord>(path, resumeStep, r => r.Step)
{
    public List<StepRecord> Steps => Records;
}

/// <summary>
/// Records of a run, one JSON line each, keyed by step. On resume, records at or after the checkpoint's step are
/// dropped, so the file reads as one run.
/// </summary>
public class JsonLines<T>
{
    private readonly string _path;
    public List<T> Records { get; } = [];

    public JsonLines(string path, int resumeStep, Func<T, int> step)
    {
        _path = path;
        if (File.Exists(path))
            foreach (var line in File.ReadLines(path))
                if (line.Length > 0 && JsonSerializer.Deserialize<T>(line, TrainConfig.Json) is { } r && step(r) < resumeStep)
                    Records.Add(r);
        File.WriteAllLines(path, Records.Select(s => JsonSerializer.Serialize(s, Compact)));
    }

    private static readonly JsonSerializerOptions Compact = new(TrainConfig.Json) { WriteIndented = false };

    public void Add(T r)
    {
        Records.Add(r);
        File.AppendAllText(_path, JsonSerializer.Serialize(r, Compact) + "\n");
    }
}
