using System.Text.Json;
using HeadWise.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Training;

/// <summary>Where a run stands: the next step to take, time spent so far, and the config it was started with.</summary>
internal sealed record CheckpointState(int Step, double ElapsedSeconds, string ConfigJson);

/// <summary>
/// A resumable checkpoint folder: parameters (float32, in <see cref="ModelWeights.All"/> order), the optimizer's
/// state (TorchSharp's own format) and state.json. Written to a temporary folder and renamed, so a run killed while
/// saving leaves the previous checkpoint intact.
/// </summary>
internal static class Checkpoint
{
    private const uint Magic = 0x54505743; // "CWPT"

    public static void Save(string dir, ModelWeights weights, TorchSharp.Modules.OptimizerHelper optimizer, CheckpointState state)
    {
        var tmp = dir + ".tmp";
        if (Directory.Exists(tmp)) Directory.Delete(tmp, true);
        Directory.CreateDirectory(tmp);
        SaveWeights(Path.Combine(tmp, "weights.bin"), weights);
        optimizer.save_state_dict(Path.Combine(tmp, "optimizer.bin"));
        File.WriteAllText(Path.Combine(tmp, "state.json"), JsonSerializer.Serialize(state));
        var old = dir + ".old";
        if (Directory.Exists(old)) Directory.Delete(old, true);
        if (Directory.Exists(dir)) Directory.Move(dir, old);
        Directory.Move(tmp, dir);
        if (Directory.Exists(old)) Directory.Delete(old, true);
    }

    public static bool Exists(string dir) => File.Exists(Path.Combine(dir, "state.json"));

    public static CheckpointState ReadState(string dir)
    {
        var path = Path.Combine(dir, "state.json");
        try { return JsonSerializer.Deserialize<CheckpointState>(File.ReadAllText(path)) ?? throw new HeadWiseException($"{path}: empty"); }
        catch (JsonException e) { throw new HeadWiseException($"{path}: not a checkpoint state file: {e.Message}"); }
    }

    /// <summary>Loads parameters into <paramref name="weights"/> (same shapes) and the optimizer state into <paramref name="optimizer"/>.</summary>
    public static void Load(string dir, ModelWeights weights, TorchSharp.Modules.OptimizerHelper optimizer)
    {
        LoadWeights(Path.Combine(dir, "weights.bin"), weights);
        optimizer.load_state_dict(Path.Combine(dir, "optimizer.bin"));
    }

    public static void SaveWeights(string path, ModelWeights weights)
    {
        using var w = new BinaryWriter(File.Create(path));
        var all = weights.All().ToList();
        w.Write(Magic);
        w.Write(all.Count);
        foreach (var t in all)
        {
            w.Write((int)t.dim());
            foreach (var d in t.shape) w.Write(d);
            using var c = t.detach().contiguous().to(ScalarType.Float32);
            w.Write(c.bytes);
        }
    }

    public static void LoadWeights(string path, ModelWeights weights)
    {
        if (!File.Exists(path)) throw new HeadWiseException($"{path}: checkpoint weights not found");
        using var r = new BinaryReader(File.OpenRead(path));
        var all = weights.All().ToList();
        if (r.ReadUInt32() != Magic) throw new InvalidModelFileException(path, "not a HeadWise checkpoint (bad magic)");
        int count = r.ReadInt32();
        if (count != all.Count) throw new InvalidModelFileException(path, $"holds {count} tensors, the model has {all.Count}");
        using var _ = torch.no_grad();
        for (int i = 0; i < count; i++)
        {
            var shape = new long[r.ReadInt32()];
            for (int k = 0; k < shape.Length; k++) shape[k] = r.ReadInt64();
            if (!shape.SequenceEqual(all[i].shape))
                throw new InvalidModelFileException(path, $"tensor {i} has shape [{string.Join(", ", shape)}], the model expects [{string.Join(", ", all[i].shape)}]");
            var bytes = r.ReadBytes(checked((int)(all[i].numel() * 4)));
            using var src = torch.empty(shape, ScalarType.Float32);
            bytes.CopyTo(src.bytes);
            all[i].copy_(src);
        }
    }
}
