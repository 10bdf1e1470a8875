// Reads the registry into a snapshot of the serving slots with their artifact locations. A
// version's location never changes, so it is fetched once per version: a steady-state cycle
// costs one request per page of registered models.
import type { MlflowClient } from "./mlflow/client";
import type { RegistrySnapshot, ResolvedSlot, VersionLocation } from "./planner";
import type { EngineSettings } from "./settings";
import { mapLimited, PARALLEL_REQUESTS } from "./concurrency";
import { servingSlots } from "./slots";

export class RegistryReader {
  /** Locations of the versions in service at the last snapshot (others are forgotten). */
  private locations = new Map<string, VersionLocation>();

  constructor(
    private readonly client: MlflowClient,
    private readonly settings: EngineSettings,
  ) {}

  /** Throws a RegistryError when any page or lookup fails: a partial snapshot is never returned. */
  async snapshot(): Promise<RegistrySnapshot> {
    const models = await this.client.listRegisteredModels();
    const created = new Map(models.map((m) => [m.name, m.creation_timestamp ?? 0]));
    const latest = new Map(
      models.flatMap((m) => m.latest_versions.map((v) => [`${v.name}\u0000${v.version}`, v])),
    );
    const inService = new Map<string, VersionLocation>();
    const slots = await mapLimited(servingSlots(models, this.settings), PARALLEL_REQUESTS, async (slot) => {
      // A model deleted and registered again restarts at version 1: its creation time is in the key.
      const key = `${slot.model}\u0000${slot.version}\u0000${created.get(slot.model)}`;
      let location = this.locations.get(key);
      if (!location) {
        const version =
          latest.get(`${slot.model}\u0000${slot.version}`) ??
          (await this.client.getModelVersion(slot.model, slot.version));
        const artifactUri = await this.client.getDownloadUri(slot.model, slot.version);
        location = { source: version.source, runId: version.run_id, artifactUri };
      }
      inService.set(key, location);
      return { ...slot, location } satisfies ResolvedSlot;
    });
    this.locations = inService;
    return { slots };
  }
}
