// Once, on a new deployment (deploy/compose.yaml's mongo-init; the Kubernetes Job mongo-init):
// the replica set, then one user per service with readWrite on its own database only.
// Passwords come from the environment (KEYVAULT_DB_PASSWORD, CATALOG_DB_PASSWORD, ACTIVITY_DB_PASSWORD).
const members = (process.env.MONGO_MEMBERS || "mongo-1:27017,mongo-2:27017,mongo-3:27017").split(",");
try {
  rs.status();
} catch (e) {
  rs.initiate({_id: "rs0", members: members.map((host, i) => ({_id: i, host}))});
}
while (!db.hello().isWritablePrimary) { sleep(500); }
for (const [service, database] of [["keyvault", "keyrelay_keyvault"], ["catalog", "keyrelay_catalog"], ["activity", "keyrelay_activity"]]) {
  const target = db.getSiblingDB(database);
  const pwd = process.env[`${service.toUpperCase()}_DB_PASSWORD`];
  if (!target.getUser(service)) {
    target.createUser({user: service, pwd, roles: [{role: "readWrite", db: database}]});
  }
}
