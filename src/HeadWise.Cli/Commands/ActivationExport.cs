using System.Text.Json;
using HeadWise.Heads;
using HeadWise.Models;

namespace HeadWise.Cli.Commands;

/// <summary>`--save-activations F.safetensors` on attention, attribute and profile: the captured hook points for Python users.</summary>
internal static class ActivationExport
{
    /// <summary>Writes <paramref name="cache"/> with the model, prompt and tokens in the file's metadata, and says so.</summary>
    public static void Save(string path, ActivationCache cache, LoadedModel m, string prompt, IReadOnlyList<string> tokens)
    {
        cache.Save(path, new Dictionary<string, string>
        {
            ["model"] = m.DisplayName, ["prompt"] = prompt, ["tokens"] = JsonSerializer.Serialize(tokens),
            ["layout"] = "TransformerLens hook point names and shapes (batch first); see HookPoints in HeadWise",
        });
        Console.WriteLine($"wrote {path} ({cache.Count} activations, {cache.Bytes / 1048576.0:F1} MiB; Python: safetensors.torch.load_file)");
    }
}
