// Admin users, roles and grants (to an admin user or to a SCIM group's members).
// /api/v1/admin/users[/{id}], /api/v1/admin/roles[/{role}[/grants]], /api/v1/admin/grants/{id}.

import { h, field, form, checkboxes, pageHeading, when, code, badge, muted, announce, confirmAction, errorBox } from './ui.js';
import { CursorList } from './list.js';
import { segment } from './api.js';
import { SCOPES } from './session.js';

async function everything(api, path) {
  const all = [];
  let cursor;
  do {
    const page = await api.get(path, { cursor, limit: 500 });
    all.push(...(page.data ?? []));
    cursor = page.next_cursor;
  } while (cursor && all.length < 5000);
  return all;
}

export default async function admins({ api, rights, main, tenants }) {
  const canWrite = rights.isGlobal('admin-users');
  const tenantName = (id) => (id ? tenants().find((t) => t.id === id)?.name ?? id : null);
  const problems = h('div');
  const fail = (error) => problems.replaceChildren(errorBox(error));
  let roles = await everything(api, '/api/v1/admin/roles');
  let users = [];

  // Admin users.
  const toggle = async (user) => {
    const disabling = !user.disabled;
    if (disabling && !(await confirmAction({
      title: `Disable ${user.email}?`, message: 'Their sessions end at once and their keys stop working. Enabling them again revives no session.', confirm: 'Disable user',
    }))) return;
    try {
      await api.patch(`/api/v1/admin/users/${segment(user.id)}`, { disabled: disabling });
      announce(`${user.email} ${disabling ? 'disabled' : 'enabled'}.`);
      await userList.load();
    } catch (error) { fail(error); }
  };
  const removeUser = async (user) => {
    if (!(await confirmAction({ title: `Delete ${user.email}?`, message: 'Their grants, keys and sessions go with them. This cannot be undone.', confirm: 'Delete user' }))) return;
    try {
      await api.delete(`/api/v1/admin/users/${segment(user.id)}`);
      announce(`${user.email} deleted.`);
      await userList.load();
    } catch (error) { fail(error); }
  };
  const userList = new CursorList({
    caption: 'Admin users',
    columns: [
      { label: 'Email', value: (u) => u.email },
      { label: 'Name', value: (u) => u.display_name ?? muted('—') },
      { label: 'Signs in with', value: (u) => (u.has_password ? 'password' : 'identity provider only') },
      { label: 'State', value: (u) => (u.disabled ? badge('disabled', 'bad') : badge('active', 'good')) },
      { label: 'Last sign-in', value: (u) => when(u.last_login) },
      { label: 'Id', value: (u) => code(u.id) },
      // Nobody disables or deletes themself here (the API refuses the deletion; disabling would end this session).
      { label: 'Actions', value: (u) => (canWrite && u.id !== rights.identity.id ? h('div', { class: 'row-actions' },
        h('button', { type: 'button', onclick: () => toggle(u) }, u.disabled ? 'Enable' : 'Disable', h('span', { class: 'visually-hidden' }, ` ${u.email}`)),
        h('button', { type: 'button', class: 'danger', onclick: () => removeUser(u) }, 'Delete', h('span', { class: 'visually-hidden' }, ` ${u.email}`))) : '') },
    ],
    fetchPage: async (cursor) => { const page = await api.get('/api/v1/admin/users', { cursor }); users = page.data ?? []; return page; },
    empty: 'No admin users yet.',
  });

  // Roles.
  const removeRole = async (role) => {
    if (!(await confirmAction({ title: `Delete the role ${role.name}?`, message: 'Every grant of it goes too. This cannot be undone.', confirm: 'Delete role' }))) return;
    try {
      await api.delete(`/api/v1/admin/roles/${segment(role.id)}`);
      announce(`Role ${role.name} deleted.`);
      await refreshRoles();
    } catch (error) { fail(error); }
  };
  const roleList = new CursorList({
    caption: 'Roles',
    columns: [
      { label: 'Name', value: (r) => r.name },
      { label: 'Scopes', value: (r) => h('ul', { class: 'inline' }, r.scopes.map((s) => h('li', {}, code(s)))) },
      { label: 'Kind', value: (r) => (r.builtin ? 'built-in' : 'custom') },
      { label: 'Description', value: (r) => r.description ?? '' },
      { label: 'Actions', value: (r) => (canWrite && !r.builtin ? h('button', { type: 'button', class: 'danger', onclick: () => removeRole(r) }, 'Delete', h('span', { class: 'visually-hidden' }, ` role ${r.name}`)) : '') },
    ],
    fetchPage: (cursor) => api.get('/api/v1/admin/roles', { cursor }),
  });

  // Grants of one role.
  let grantRole = roles[0]?.name;
  const describeHolder = (grant) => {
    if (grant.user_id) return ['admin user ', users.find((u) => u.id === grant.user_id)?.email ?? code(grant.user_id)];
    if (grant.group) return ['members of SCIM group ', code(grant.group.id), ' in ', tenantName(grant.group.tenant_id)];
    return muted('—');
  };
  const revokeGrant = async (grant) => {
    if (!(await confirmAction({ title: `Take the role ${grant.role} back?`, message: 'Whoever held it through this grant loses its scopes within seconds.', confirm: 'Revoke grant' }))) return;
    try {
      await api.delete(`/api/v1/admin/grants/${segment(grant.id)}`);
      announce('Grant revoked.');
      await grantList.load();
    } catch (error) { fail(error); }
  };
  const grantList = new CursorList({
    caption: 'Grants of the chosen role',
    columns: [
      { label: 'Holder', value: describeHolder },
      { label: 'On', value: (g) => tenantName(g.tenant_id) ?? 'every tenant' },
      { label: 'Granted', value: (g) => when(g.created) },
      { label: 'Actions', value: (g) => (canWrite ? h('button', { type: 'button', class: 'danger', onclick: () => revokeGrant(g) }, 'Revoke', h('span', { class: 'visually-hidden' }, ' grant')) : '') },
    ],
    fetchPage: (cursor) => (grantRole ? api.get(`/api/v1/admin/roles/${segment(grantRole)}/grants`, { cursor }) : { data: [] }),
    empty: 'Nobody holds this role.',
  });
  const roleOptions = () => roles.map((r) => [r.name, r.name]);
  const grantRolePicker = field({ label: 'Role', name: 'role', options: roleOptions(), value: grantRole });
  grantRolePicker.input.addEventListener('change', async () => { grantRole = grantRolePicker.input.value; await grantList.reload(); });
  const refreshRoles = async () => {
    roles = await everything(api, '/api/v1/admin/roles');
    grantRolePicker.input.replaceChildren(...roles.map((r) => h('option', { value: r.name, selected: r.name === grantRole }, r.name)));
    await roleList.load();
  };

  main.append(...pageHeading('Admin users and roles', 'People who administer Roster, the roles (sets of scopes) they hold, and grants of roles to users or to SCIM groups.'), problems);

  const usersSection = h('section', { 'aria-labelledby': 'admin-users' }, h('h2', { id: 'admin-users' }, 'Admin users'));
  if (canWrite) {
    const roleChoices = () => roles.map((r) => [r.name, `${r.name} (${r.scopes.join(', ')})`]);
    const create = form({
      label: 'Create an admin user', submit: 'Create user',
      fields: [
        field({ label: 'Email', name: 'email', type: 'email', required: true }),
        field({ label: 'Display name', name: 'display_name' }),
        field({ label: 'Password', name: 'password', type: 'password', hint: 'Optional: without one they sign in only through a trusted identity provider.', attributes: { autocomplete: 'new-password' } }),
        checkboxes({ legend: 'Roles on every tenant', name: 'roles', choices: roleChoices() }),
      ],
      action: async (values, node) => {
        const body = { email: values.email };
        if (values.display_name) body.display_name = values.display_name;
        if (values.password) body.password = values.password;
        if (values.roles.length) body.roles = values.roles;
        const user = await api.post('/api/v1/admin/users', body);
        node.reset();
        announce(`Admin user ${user.email} created.`);
        await userList.load();
      },
    });
    usersSection.append(h('details', {}, h('summary', {}, 'Create an admin user'), create));
  }
  usersSection.append(userList.node);

  const rolesSection = h('section', { 'aria-labelledby': 'roles' }, h('h2', { id: 'roles' }, 'Roles'));
  if (canWrite) {
    const create = form({
      label: 'Create a custom role', submit: 'Create role',
      fields: [
        field({ label: 'Name', name: 'name', required: true }),
        field({ label: 'Description', name: 'description' }),
        checkboxes({ legend: 'Scopes', name: 'scopes', required: true, choices: SCOPES.filter(([s]) => rights.isGlobal(s)).map(([s, text]) => [s, `${s} — ${text}`]) }),
      ],
      action: async (values, node) => {
        const role = await api.post('/api/v1/admin/roles', { name: values.name, description: values.description || undefined, scopes: values.scopes });
        node.reset();
        announce(`Role ${role.name} created.`);
        await refreshRoles();
      },
    });
    rolesSection.append(h('details', {}, h('summary', {}, 'Create a custom role'), create));
  }
  rolesSection.append(roleList.node);

  const grantsSection = h('section', { 'aria-labelledby': 'grants' }, h('h2', { id: 'grants' }, 'Grants'), grantRolePicker, grantList.node);
  if (canWrite) {
    const tenantChoices = [['', 'Every tenant'], ...tenants().map((t) => [t.name, t.name])];
    const toUser = form({
      label: 'Grant the role to an admin user', submit: 'Grant to user',
      fields: [
        field({ label: 'Admin user id', name: 'user_id', required: true, hint: 'The id from the admin users table.' }),
        field({ label: 'On tenant', name: 'tenant', options: tenantChoices, value: '' }),
      ],
      action: async (values) => {
        await api.post(`/api/v1/admin/roles/${segment(grantRole)}/grants`, { user_id: values.user_id, tenant: values.tenant || undefined });
        announce(`Role ${grantRole} granted.`);
        await grantList.load();
      },
    });
    const toGroup = form({
      label: 'Grant the role to a SCIM group', submit: 'Grant to group',
      fields: [
        field({ label: 'Group\'s tenant', name: 'group_tenant', options: tenants().map((t) => [t.name, t.name]), value: tenants()[0]?.name }),
        field({ label: 'Group', name: 'group', required: true, hint: 'The SCIM group\'s id or displayName; its members hold the role while they belong.' }),
        field({ label: 'On tenant', name: 'tenant', options: tenantChoices, value: '', hint: 'Must be the group\'s own tenant unless that tenant is the operator\'s directory.' }),
      ],
      action: async (values) => {
        await api.post(`/api/v1/admin/roles/${segment(grantRole)}/grants`, {
          group: { tenant: values.group_tenant, group: values.group }, tenant: values.tenant || undefined,
        });
        announce(`Role ${grantRole} granted to the group.`);
        await grantList.load();
      },
    });
    grantsSection.append(h('details', {}, h('summary', {}, 'Grant the role to an admin user'), toUser),
      h('details', {}, h('summary', {}, 'Grant the role to a SCIM group'), toGroup));
  }
  main.append(usersSection, rolesSection, grantsSection);
  await Promise.all([userList.load(), roleList.load()]);
  await grantList.load();
}
