using System.Text.Json;

namespace HeadWise.Training;

/// <summary>Saves and reads the trained vocabulary beside the checkpoint, so a resumed run uses the very same tokens.</summary>
public static class BpeVocabularyFile
{
    public static void Save(string path, BpeVocabulary v) => File.WriteAllText(path, JsonSerializer.Serialize(v));

    public static BpeVocabulary Load(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<BpeVocabulary>(File.ReadAllText(path)) ?? throw new HeadWiseException($"{path}: empty vocabulary file");
        }
        catch (JsonException e) { throw new HeadWiseException($"{path}: not a vocabulary file: {e.Message}"); }
    }
}
