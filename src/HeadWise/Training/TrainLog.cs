using System.Text.Json;

namespace HeadWise.Training;

/// <summary>One optimisation step as the log records it.</summary>
public sealed record StepRecord(int Step, double Loss, double Lr, double GradNorm, int SeqLen, int Batch, long Tokens, double Seconds);

/// <summary>The training log (one JSON line per step). On resume, steps at or after the checkpoint are dropped, so the file reads as one run.</summary>
public sealed class TrainLog
{
    private readonly string _path;
    public List<StepRecord> Steps { get; } = [];

    public TrainLog(string path, int resumeStep)
    {
        _path = path;
        if (File.Exists(path))
            foreach (var line in File.ReadLines(path))
                if (line.Length > 0 && JsonSerializer.Deserialize<StepRecord>(line, TrainConfig.Json) is { } r && r.Step < resumeStep)
                    Steps.Add(r);
        File.WriteAllLines(path, Steps.Select(s => JsonSerializer.Serialize(s, Compact)));
    }

    private static readonly JsonSerializerOptions Compact = new(TrainConfig.Json) { WriteIndented = false };

    public void Add(StepRecord r)
    {
        Steps.Add(r);
        File.AppendAllText(_path, JsonSerializer.Serialize(r, Compact) + "\n");
    }
}
